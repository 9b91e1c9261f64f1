"""The chat, started from the project folder: ``python chat_app.py [--index DIR] [--port 7860] …``.

A launcher only: the app is ``pipeline/apps/chat.py`` (also ``python -m pipeline serve``).
"""

import sys

from pipeline.apps.chat import main

if __name__ == "__main__":
    sys.exit(main())
