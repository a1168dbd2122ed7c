"""Text and language models: tokenizers and text data, the GPT, Hugging Face models, LoRA."""
