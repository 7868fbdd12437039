"""Rendering views to files: figures (PNG, SVG, PDF), animations, the seed's figures."""
