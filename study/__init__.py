"""Working with the library as a speech writer does: a draft's quotes checked against the speeches (quotes.py), a
topic followed across the speeches (topic.py), a speech's outline, figures and formulas (outline.py). No LLM: what
these say is found in the stored text, with offsets into it."""
