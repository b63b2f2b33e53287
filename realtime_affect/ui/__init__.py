"""What a person sees: the live window, the overlay drawn on frames, and where its panels go."""
