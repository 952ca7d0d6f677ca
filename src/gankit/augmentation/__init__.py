"""The low-data augmentation protocol behind `gankit augment`: does a conditional GAN trained on a few labelled
images make a classifier better? Labelled subsets (`subsets`), the classifier and its arms (`arms`), the
resumable protocol (`protocol`) and its report (`report`)."""
