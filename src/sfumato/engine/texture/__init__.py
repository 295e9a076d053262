"""Texturing 3D meshes (no users, HTTP or database here): mesh files in and out (mesh.py), a numpy software
rasterizer (raster.py), cameras and renders (views.py), UV atlases and projection (atlas.py), and the whole
texturing run around a picture maker (pipeline.py). Nothing here imports torch."""
