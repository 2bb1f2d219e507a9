"""NLP tasks on the same encoders: one folder per task, found through `registry.get_spec` (see `spec.TaskSpec`)."""
