"""Runtimes behind one interface (see ``base.Backend``); one module per runtime, imported on demand."""
