"""The views, described without Qt: what each view is (``views.registry``: its key, title,
settings class, what it needs from a frame, its export sizes, whether it draws with GL) and
how it can be drawn (``views.settings``: each view's frozen settings dataclass and the 3D
camera). The command line, the settings file and the Python API read these without
importing Qt; the window, the export dialog and the exporter read the same registry and
then build the widgets it names.

Layer: ``widgets``, ``render3d`` -> ``views`` -> ``model`` (pyproject.toml's contracts):
nothing here imports Qt, pyqtgraph or OpenGL.
"""
