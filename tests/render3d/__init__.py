"""Tests of the 3D latent-plane view: pure scene arrays (no GL) and GL pixels (under Xvfb)."""
