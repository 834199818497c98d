"""The stems of Sift's own model, in the order the network outputs its masks, the data set holds
its renders and every report lists them. The one definition: the exported model's `sift.stems`
(export.py) comes from it too."""

STEMS = ("vocals", "drums", "bass", "other")
