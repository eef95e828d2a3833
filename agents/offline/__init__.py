"""The offline engine: a rule-based ``ChatModel`` for every research task, with extractive writing."""
