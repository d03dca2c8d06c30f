"""The web stage: a FastAPI server for the offline Cesium demo page and the compiled model bundles."""
