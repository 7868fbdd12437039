"""The dataset-size view's legends sit over headroom kept free of data: no curve point under them."""
import numpy as np

from tests.app.experiment_data import hand_datasize


def test_the_legends_cover_no_point_of_the_curves(qtbot, tmp_path):
    from model.experiments.datasize import open_datasize
    from widgets.datasize_view import DataSizeView

    v = DataSizeView()
    qtbot.addWidget(v)
    v.resize(1000, 700)
    v.show()
    qtbot.waitExposed(v)
    v.set_result(open_datasize(hand_datasize(tmp_path / "d.h5")))
    qtbot.wait(50)  # the legends anchor themselves once laid out
    for plot in (v.loss_plot, v.dim_plot):
        pi = plot.plotItem
        vb = pi.getViewBox()
        box = vb.mapSceneToView(pi.legend.sceneBoundingRect()).boundingRect()
        assert len(pi.legend.items) >= 2  # every curve is named
        points = 0
        for item in pi.listDataItems():
            x, y = item.getData()  # as displayed: log10 on a log axis
            for px, py in zip(x, y, strict=True):
                if np.isfinite(px) and np.isfinite(py):
                    points += 1
                    assert not box.contains(float(px), float(py)), (plot, px, py, box)
        assert points > 4
