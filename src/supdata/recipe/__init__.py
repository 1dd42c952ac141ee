"""Recipes: the YAML that drives a build."""

from supdata.recipe.load import RecipeError, load_recipe
from supdata.recipe.model import Recipe, Segmentation, Verification

__all__ = ["Recipe", "RecipeError", "Segmentation", "Verification", "load_recipe"]
