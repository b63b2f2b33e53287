"""Open teacher models, ported to torch, used to label unlabelled faces for distillation (seeds 003/004).

Their weight files are not shipped; each loader takes the path of the files from the registry package
named in its docstring (see README "Default model" for how to fetch them).
"""
