"""Language models behind the ``ChatModel`` Protocol (chat_model.py), the OpenAI-compatible adapter
(openai_chat.py) and the one OpenAI client builder (client.py), shared with the embeddings."""

from sleuth.tools.llm.chat_model import ChatModel, ChatRequest, ChatResponse, StructuredOutput, Usage
from sleuth.tools.llm.openai_chat import OpenAIChatModel, with_schema_instruction

__all__ = [
    "ChatModel",
    "ChatRequest",
    "ChatResponse",
    "OpenAIChatModel",
    "StructuredOutput",
    "Usage",
    "with_schema_instruction",
]
