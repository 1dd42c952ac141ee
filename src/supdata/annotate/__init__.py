"""Step labels from an annotator model, aligned one-to-one with the steps or rejected."""
