"""Training: data sets, losses, metrics and loops for the student and the sequence model.

Never imported by the runtime.
"""
