"""Generation tasks: a request, a photo and its segmentation → control maps → a GenerationPlan a backend runs,
and the exact composite that puts the kept product pixels back afterwards."""
