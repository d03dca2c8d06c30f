"""The dataset stage: generate, verify, convert, split, import and describe instruction -> tool-call records."""
