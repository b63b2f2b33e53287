"""``affect-batch``: annotate many video files, one output per input, with local worker processes or Ray.

``inputs`` expands what the user gave into inputs and output names; ``job`` annotates one input into a
temporary file and renames it when complete (with a manifest for ``--resume``); ``local`` and ``ray_runner``
run the jobs; ``summary`` writes the summary JSON; ``cli`` is the command.
"""
