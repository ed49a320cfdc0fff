"""Language models: one small async interface, several backends, a cache and budgets.

>>> from assay.models import load_model, generate_sync, GenerationParams
>>> model = load_model("openai:qwen2.5-coder:7b@http://localhost:11434/v1")  # doctest: +SKIP
>>> generate_sync(model, "Write add(a, b).", GenerationParams(max_tokens=64))  # doctest: +SKIP
"""

from assay.models.accounting import Budget, BudgetExhausted, Ledger, MeteredModel, Tally
from assay.models.base import (
    Completion,
    GenerationParams,
    Message,
    Model,
    ModelError,
    Usage,
    as_messages,
    generate_sync,
)
from assay.models.cache import CachedModel, ResponseCache
from assay.models.catalog import (
    DEFAULT_EMBEDDED_MODEL,
    ModelListing,
    format_listing,
    install_model,
    list_models,
)
from assay.models.extract import ExtractedCode, extract_code
from assay.models.scripted import ScriptedModel, ScriptedReply
from assay.models.spec import ModelSpec, ModelSpecError, load_model, parse_model_spec

__all__ = [
    "Budget",
    "BudgetExhausted",
    "CachedModel",
    "Completion",
    "DEFAULT_EMBEDDED_MODEL",
    "ExtractedCode",
    "GenerationParams",
    "Ledger",
    "Message",
    "MeteredModel",
    "Model",
    "ModelError",
    "ModelListing",
    "ModelSpec",
    "ModelSpecError",
    "ResponseCache",
    "ScriptedModel",
    "ScriptedReply",
    "Tally",
    "Usage",
    "as_messages",
    "extract_code",
    "format_listing",
    "generate_sync",
    "install_model",
    "list_models",
    "load_model",
    "parse_model_spec",
]
