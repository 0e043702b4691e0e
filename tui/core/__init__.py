"""The neutral core: types and helpers every layer may use.

It imports nothing of Grue's outside `tui.core`: the sampler settings, the backend
interface and prompt, the player's folders and untrusted-text cleaning. See
docs/architecture.md, "Layers and import rules".
"""
