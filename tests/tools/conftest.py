"""The tools are scripts (`python tools/NAME.py`) that import each other from their own
folder; their tests import them the same way."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
