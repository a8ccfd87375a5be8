"""Tuning datasets from consenting people's conversations: records, cleaning, formats, split."""

# The pipeline (export.py) reads bot.types.TrainingConversation values from a store,
# cleans them into one internal record (records.py), renders and checks each in the
# chosen format (formats.py, limits.py), splits by conversation (split.py) and reports
# (summary.py, tuning.py). Standard library only. Nothing is imported here, so that the
# `tertulia` command can name the formats (options.py) without loading the pipeline.
