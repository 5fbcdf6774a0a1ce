"""App icons (SVG source and rendered PNG/ICO/ICNS); read with importlib.resources."""
