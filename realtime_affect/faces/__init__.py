"""Faces in a frame: full-range detection, MediaPipe landmarks (read straight from its C structs), merging
the two, tracking identities across frames, and the alignment that makes the model's crops (the one place
crops are made, for serving and training alike). ``ahead`` runs this stage a frame ahead in its own thread."""
