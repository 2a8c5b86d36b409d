"""Formats only, no science: rasters, point clouds, tables, vectors and atomic writers."""
