"""Evaluation: one metrics module (`metrics`) scores every backend (torch, any OpenAI-compatible endpoint, the
browser); `predict` turns a backend's raw texts into executed calls the same way for all of them."""
