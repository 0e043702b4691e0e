"""The game engine. Nothing below this package may import Textual."""
