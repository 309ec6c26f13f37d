"""Training our own expression classifier (needs the ``train`` extra:
``pip install "vcam-emoji[train]" torch==2.13.0``).

Never imported by the real-time app. ``data`` needs only numpy/OpenCV; ``model``, ``train`` and ``export`` need torch.
"""
