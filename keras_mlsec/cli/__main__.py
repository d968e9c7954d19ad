"""`python -m keras_mlsec.cli`: the `keras-mlsec` console script."""

import sys

from keras_mlsec.cli import main

sys.exit(main())
