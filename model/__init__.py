"""The GRU contestant: corpus, tokenizer, training, evaluation and fast replies.

`from model import load_bot` is all a server needs; it imports no TensorFlow.
"""
from .bot import Bot, load_bot

__all__ = ["Bot", "load_bot"]
