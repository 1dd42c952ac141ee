"""Builders: the stages a recipe's ``builders:`` entries add to a build."""
