"""Grue: text adventures and roleplay with local language models, in the terminal."""

import os

__version__ = "0.1.0"

# llama.cpp's OpenMP threads spin while they wait by default. On a small or shared machine a
# spinning thread starves the UI and its sibling threads: measured here under load on 2 cores,
# prompt evaluation ran at 42 tokens/s spinning and 83 tokens/s passive, and generation
# stalled completely. Set before llama_cpp starts its thread pool; the player can override it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
