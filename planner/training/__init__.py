"""The training recipe and the Megatron arguments it becomes."""
