"""Real pixels in the terminal: which protocol (detect, terminal_io), the encoders (sixel, kitty,
iterm2), and a picture kept on screen at a widget's region after Textual's frames (pixels; demo).

Textual is imported only by pixels and demo, so the command line can detect before starting the app.
"""
