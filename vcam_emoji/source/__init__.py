"""Frame sources: where frames come from (camera, video file, still image, demo clip, memory)."""
