"""The generation engine: diffusers' AnimateDiff pipeline assembled from the model files users have."""
