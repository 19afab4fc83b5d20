"""Layer 2, from images to rows: timm backbones (``backbones``: a new backbone goes here), the frozen feature
map (``frozen``), cached batched embedding (``embed``), the table of chapters 1-2 with its PCA (``tables``) and
the image pool of chapters 3-6 (``image_pool``)."""
