"""Refresh the assistant's LoRA adapter: SFT on dialogues, then DPO on preference pairs."""
