"""The tutorial's networks: exact sizes, shapes and output ranges; chosen by name."""

import numpy as np
import pytest

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks import build_discriminator, build_generator


def test_full_size_tutorial_generator_has_the_tutorials_parameter_count():
    assert build_generator("tutorial", (220, 184, 1)).count_params() == 6_943_235


def test_full_size_tutorial_discriminator_has_the_tutorials_parameter_count():
    assert build_discriminator("tutorial", (220, 184, 1)).count_params() == 6_960_321


def test_generator_bottleneck_grows_by_concatenation():
    generator = build_generator("tutorial", (16, 12, 1), filters=4)
    widths = [generator.get_layer(f"block{i}_concat").output.shape[-1] for i in range(3)]
    assert widths == [32, 48, 64]  # 4f -> 8f -> 12f -> 16f channels with f = 4


def test_generator_keeps_the_image_shape_and_stays_in_tanh_range():
    generator = build_generator("tutorial", (24, 20, 1), filters=4)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 24, 20, 1)).astype(np.float32)
    y = np.asarray(generator(x, training=True))
    assert y.shape == (3, 24, 20, 1)
    assert y.min() >= -1.0 and y.max() <= 1.0 and y.std() > 0


def test_discriminator_gives_one_logit_per_patch():
    discriminator = build_discriminator("tutorial", (220, 184, 1), filters=2)
    assert discriminator.output_shape == (None, 14, 12, 1)


def test_unknown_architecture_names_the_choices():
    with pytest.raises(UserError, match="tutorial"):
        build_generator("nope", (16, 16, 1))


@pytest.mark.parametrize("generator", ["tutorial", "resnet6", "unet"])
@pytest.mark.parametrize("discriminator", ["tutorial", "patchgan"])
def test_every_cyclegan_network_treats_each_image_of_a_batch_on_its_own(generator, discriminator):
    """The CycleGAN judges real, fake and pooled images in one call: batch statistics would mix them."""
    import keras

    from cyclegan_mri.models.cyclegan import CycleGAN

    model = CycleGAN((16, 16, 1), filters=2, generator=generator, discriminator=discriminator)
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32) * scale for scale in (0.2, 1.0))
    for name, network in model.networks().items():
        assert not [l for l in network.layers if isinstance(l, keras.layers.BatchNormalization)], name
        assert not [l for l in network.layers if isinstance(l, keras.layers.Dropout) and l.rate > 0], name
        together = np.asarray(network(np.concatenate([a, b]), training=True))
        apart = np.concatenate([np.asarray(network(a, training=True)), np.asarray(network(b, training=True))])
        np.testing.assert_allclose(together, apart, rtol=1e-5, atol=1e-5, err_msg=name)
