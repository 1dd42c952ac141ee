"""Publishing: schema checks, dataset cards, Hub-ready folders."""

from supdata.publish.card import render_card
from supdata.publish.folder import DatasetFolder
from supdata.publish.schemas import RowSchemaError, validate_rows

__all__ = ["DatasetFolder", "RowSchemaError", "render_card", "validate_rows"]
