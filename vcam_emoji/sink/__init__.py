"""Frame sinks: where finished frames go (virtual camera, preview window, video file, memory)."""
