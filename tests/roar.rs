//! ROAR, ROAD-style evaluation without retraining and the pixel fills they
//! use. f32 only: Burn's ndarray device keeps one default float type per
//! process, so these tests stay apart from the f64 metric tests.

#[test]
fn roar_replaces_the_most_relevant_pixels_and_retrains() {
    use learnprop::data::{LabelledImages, Normalisation};
    use learnprop::metric::{channel_means, remove_most_relevant, roar_accuracy, RoarFill};
    let pixels: Vec<u8> = (0..2 * 9).map(|v| v as u8 * 10).collect();
    let data = LabelledImages::from_parts(pixels, vec![0, 1], [1, 3, 3]).unwrap();
    assert_eq!(channel_means(&data), vec![85]);
    let maps = vec![(0..9).map(|v| v as f64).collect::<Vec<_>>(), vec![0.0; 9]];
    let removed = remove_most_relevant(&data, &maps, 1.0 / 3.0, &[7]).unwrap();
    assert_eq!(
        removed.pixels(0).unwrap(),
        &[0, 10, 20, 30, 40, 50, 7, 7, 7]
    );
    // Ties keep row-major order: the first three pixels go.
    assert_eq!(
        removed.pixels(1).unwrap(),
        &[7, 7, 7, 120, 130, 140, 150, 160, 170]
    );
    assert!(remove_most_relevant(&data, &maps[..1], 0.5, &[7]).is_err());

    // A smoke run on the 32 committed digits: removing everything leaves chance.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mnist");
    let digits = LabelledImages::load_idx(
        dir.join("mnist-test-images-idx3-ubyte.gz"),
        dir.join("mnist-test-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let maps: Vec<Vec<f64>> = vec![vec![1.0; 784]; digits.len()];
    type T = burn::backend::Autodiff<learnprop::backend::Base<learnprop::Cpu>>;
    let device = Default::default();
    let config = learnprop::train::TrainConfig::new()
        .with_epochs(1)
        .with_batch_size(8);
    let fresh = || learnprop::zoo::MnistCnnConfig::new().init::<T>(&device);
    let acc = roar_accuracy(
        fresh,
        &digits,
        &maps,
        &digits,
        &maps,
        1.0,
        RoarFill::DatasetMean,
        &Normalisation::mnist(),
        &config,
        &device,
    )
    .unwrap();
    assert!(acc <= 0.5, "every pixel removed, yet accuracy {acc}");

    // Without retraining: nothing removed is the plain accuracy; everything
    // removed, with either fill, leaves the shipped model near chance.
    use learnprop::metric::removal_accuracy;
    let shipped =
        learnprop::zoo::pretrained::mnist_cnn::<learnprop::backend::Base<learnprop::Cpu>>(&device)
            .unwrap();
    let mnist = Normalisation::mnist();
    let means = channel_means(&digits);
    let plain = learnprop::train::accuracy(&shipped, &digits, &mnist, 500, &device).unwrap();
    assert!(plain > 0.9, "{plain}");
    let none = removal_accuracy(
        &shipped,
        &digits,
        &maps,
        0.0,
        RoarFill::DatasetMean,
        &means,
        &mnist,
        &device,
    )
    .unwrap();
    assert_eq!(none, plain);
    for fill in [
        RoarFill::DatasetMean,
        RoarFill::NoisyLinearImputation {
            noise: 2.55,
            seed: 3,
        },
    ] {
        let all =
            removal_accuracy(&shipped, &digits, &maps, 1.0, fill, &means, &mnist, &device).unwrap();
        assert!(
            all <= 0.5,
            "{fill:?}: every pixel removed, yet accuracy {all}"
        );
    }
}

#[test]
fn imputation_fills_the_most_relevant_pixels_from_their_neighbours() {
    use learnprop::data::LabelledImages;
    use learnprop::metric::impute_most_relevant;
    // A horizontal ramp 0, 20, …, 100 on 4 rows; the map marks the two
    // middle columns of the middle rows, whose neighbours lie on the ramp.
    let (h, w) = (4, 6);
    let pixels: Vec<u8> = (0..h * w).map(|p| (20 * (p % w)) as u8).collect();
    let data = LabelledImages::from_parts(pixels.clone(), vec![3], [1, h, w]).unwrap();
    let map: Vec<f64> = (0..h * w)
        .map(|p| ((1..3).contains(&(p / w)) && (2..4).contains(&(p % w))) as u8 as f64)
        .collect();
    let maps = std::slice::from_ref(&map);
    let filled = impute_most_relevant(&data, maps, 4.0 / 24.0, &[0], 0.0, 1).unwrap();
    assert_eq!(
        filled.pixels(0).unwrap(),
        pixels.as_slice(),
        "a ramp is harmonic"
    );
    assert_eq!(filled.labels(), &[3]);
    // With noise the kept pixels stay, the removed ones move, and the same
    // seed gives the same image.
    let noisy = impute_most_relevant(&data, maps, 4.0 / 24.0, &[0], 10.0, 1).unwrap();
    let again = impute_most_relevant(&data, maps, 4.0 / 24.0, &[0], 10.0, 1).unwrap();
    assert_eq!(noisy.pixels(0).unwrap(), again.pixels(0).unwrap());
    let moved = (0..h * w)
        .filter(|&p| noisy.pixels(0).unwrap()[p] != pixels[p])
        .collect::<Vec<_>>();
    assert!(
        !moved.is_empty() && moved.iter().all(|&p| map[p] == 1.0),
        "{moved:?}"
    );
    // Bad settings are errors.
    assert!(impute_most_relevant(&data, maps, 1.5, &[0], 0.0, 1).is_err());
    assert!(impute_most_relevant(&data, maps, 0.5, &[0], -1.0, 1).is_err());
    assert!(impute_most_relevant(&data, maps, 0.5, &[0, 0], 0.0, 1).is_err());
}
