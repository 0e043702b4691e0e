"""Model backends: local llama-cpp-python and remote HTTP servers. They know nothing of stories."""
