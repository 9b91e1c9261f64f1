"""Apps: the command line (``cli``) and the Gradio chat (``chat``), thin shells over the library.

``args`` holds what both read from the command line. Nothing below imports from here.
"""
