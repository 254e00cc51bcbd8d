"""Netlist IR: invariants, text round trip, analyses."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgn2hw import gates
from lgn2hw.errors import NetlistError
from lgn2hw.ir import InputEncoding, Netlist, dump, parse
from lgn2hw.ir.analysis import depth, fanout, input_places, live_nodes, net_levels, net_places

from netlists import random_layered


def _same(a: Netlist, b: Netlist):
    for name in ("tables", "arity", "fanin", "layer", "index", "out_nets", "out_class", "out_invert",
                 "class_offset"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and (x == y).all(), name
    assert (a.n_inputs, a.tau, a.input_shape, a.meta) == (b.n_inputs, b.tau, b.input_shape, b.meta)
    assert (a.encoding is None) == (b.encoding is None)
    if a.encoding is not None:
        assert (a.encoding.feature == b.encoding.feature).all()
        assert (a.encoding.threshold == b.encoding.threshold).all()
        assert a.encoding.feature_shape == b.encoding.feature_shape


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), arity=st.sampled_from([2, 4, 6]), skip=st.booleans(),
       fold=st.booleans(), enc=st.booleans())
def test_dump_parse_round_trip(seed, arity, skip, fold, enc):
    nl = random_layered(np.random.default_rng(seed), max_arity=arity, skip=skip, fold_outputs=fold, encoding=enc)
    nl.meta = {"dataset": "x", "n": seed % 7}
    text = dump(nl)
    back = parse(text)
    _same(nl, back)
    assert dump(back) == text


def test_from_layers_groups_contiguous_blocks():
    t = gates.tables_from_gate_ids([1, 7, 6, 3, 5, 9])
    nl = Netlist.from_layers(3, [(t[:4], [[0, 1], [1, 2], [0, 2], [2, 2]]), (t[:6], [[0, 1]] * 6)], 3)
    nl.check()
    assert nl.n_nodes == 10 and nl.first_node_net == 5
    assert nl.out_nets.tolist() == list(range(9, 15))
    assert nl.out_class.tolist() == [0, 0, 1, 1, 2, 2]
    assert nl.fanin[4].tolist() == [5, 6]        # layer 2 reads layer 1's nets
    assert nl.origin(4) == "layer 2[0]"
    with pytest.raises(NetlistError, match=r"multiple of the class count 4"):
        Netlist.from_layers(3, [(t[:6], [[0, 1]] * 6)], 4)
    with pytest.raises(NetlistError, match=r"input index must be in 0\.\.2, not 3") as err:
        Netlist.from_layers(3, [(t[:2], [[0, 1], [3, 1]])], 1)
    assert err.value.location == "layer 1[1]"


def _base():
    return random_layered(np.random.default_rng(5), n_inputs=4, layers=3, width=6, classes=2)


@pytest.mark.parametrize("breaker, pattern", [
    (lambda nl: nl.fanin.__setitem__((0, 0), nl.first_node_net + 3), r"earlier than the node's own net"),
    (lambda nl: nl.fanin.__setitem__((3, 0), -1), r"earlier than the node's own net"),
    (lambda nl: nl.out_nets.__setitem__(0, nl.n_nets), r"output bit 0 is driven by net \d+, which does not exist"),
    (lambda nl: nl.out_class.__setitem__(1, 2), r"output bit 1 counts for class 2"),
    (lambda nl: nl.tables.__setitem__(2, np.uint64(1 << 40)), r"has bits beyond 2\*\*"),
    (lambda nl: nl.arity.__setitem__(2, 7), r"arity must be <= 6|exceeds the fanin width"),
    (lambda nl: setattr(nl, "tables", nl.tables.astype(np.int64)), r"tables must be uint64"),
])
def test_check_catches(breaker, pattern):
    nl = _base()
    # make node 0 and node 3 have at least one used input so that the fanin breakers apply
    nl.arity[[0, 3]] = np.maximum(nl.arity[[0, 3]], 1)
    nl.tables[[0, 3]] &= np.uint64(3)
    nl.check()
    breaker(nl)
    with pytest.raises(NetlistError, match=pattern):
        nl.check()


@pytest.mark.parametrize("text, pattern", [
    ("", r"has no 'lgn2hw-netlist' line"),
    ("hello 1\n", r"line 1: the first line must be"),
    ("lgn2hw-netlist 2\n", r"line 1: netlist text version must be 1, not '2'"),
    ("lgn2hw-netlist 1\ninputs 2\nclasses 1\nn4 lut2 0x8 2\n", r"line 4: a lut2 node line has 6 fields"),
    ("lgn2hw-netlist 1\ninputs 2\nclasses 1\nn5 lut2 0x8 2 3 @1[0]\n", r"line 4: node net must be n4"),
    ("lgn2hw-netlist 1\ninputs 2\nclasses 1\nn4 lut2 0x8 2 4 @1[0]\nout 4 0\n", r"layer 1\[0\]: input nets must"),
    ("lgn2hw-netlist 1\ninputs 2\nclasses 1\nbogus\n", r"line 4: unknown line kind 'bogus'"),
    ("lgn2hw-netlist 1\ninputs x\n", r"line 2: malformed line"),
])
def test_parse_errors_are_located(text, pattern):
    with pytest.raises(NetlistError, match=pattern):
        parse(text, source="t.lgn")


def test_analyses_on_a_known_netlist():
    # inputs nets 2,3; n4 = AND(2,3); n5 = NOT(n4); n6 = OR(n5, 2); n7 unused XOR(2,3)
    t = gates.tables_from_gate_ids
    nl = Netlist(n_inputs=2, tables=np.array([t([1])[0], 1, t([7])[0], t([6])[0]], dtype=np.uint64),
                 arity=np.array([2, 1, 2, 2], np.uint8),
                 fanin=np.array([[2, 3], [4, 0], [5, 2], [2, 3]], np.int32),
                 layer=np.array([1, 2, 3, 1], np.int32), index=np.array([0, 0, 0, 1], np.int32),
                 out_nets=np.array([6, 6, 3], np.int32), out_class=np.array([0, 1, 1], np.int32),
                 out_invert=np.zeros(3, bool), class_offset=np.zeros(2, np.int64))
    nl.check()
    assert net_levels(nl).tolist() == [0, 0, 0, 0, 1, 2, 3, 1]
    assert depth(nl) == 3
    assert fanout(nl).tolist() == [0, 0, 3, 3, 1, 1, 2, 0]   # padding slots are not reads
    assert live_nodes(nl).tolist() == [True, True, True, False]
    assert nl.op_histogram() == {"AND": 1, "NOT": 1, "OR": 1, "XOR": 1}
    assert nl.layer_sizes() == {1: 2, 2: 1, 3: 1}


def test_places_on_the_input_image():
    # 2 channels of a 2 x 3 image, stacked: input i sits at pixel i % 6; a node at the mean of its
    # non-constant inputs; a node of constants alone at the centre of the inputs
    t = gates.tables_from_gate_ids
    nl = Netlist(n_inputs=12, tables=np.array([t([1])[0], t([7])[0], t([6])[0], 0], dtype=np.uint64),
                 arity=np.array([2, 2, 2, 1], np.uint8),
                 fanin=np.array([[2, 7], [8 + 2, 1], [14, 15], [0, 0]], np.int32),
                 layer=np.array([1, 1, 2, 1], np.int32), index=np.array([0, 1, 0, 2], np.int32),
                 out_nets=np.array([16, 17], np.int32), out_class=np.array([0, 1], np.int32),
                 out_invert=np.zeros(2, bool), class_offset=np.zeros(2, np.int64), input_shape=(2, 2, 3))
    nl.check()
    assert input_places(nl).tolist() == [[r, c] for _ in range(2) for r in range(2) for c in range(3)]
    p = net_places(nl)
    assert np.isnan(p[:2]).all()
    assert p[14].tolist() == [0.5, 1.0]            # pixels (0, 0) and (1, 2)
    assert p[15].tolist() == [0.0, 2.0]            # pixel (0, 2) of channel 2 (input 8) and TRUE
    assert p[16].tolist() == [0.25, 1.5]
    assert p[17].tolist() == [0.5, 1.0]            # no inputs: the centre
    # an input encoding places a bit at the pixel of its feature, whatever the input's own shape
    enc = InputEncoding(np.array([27 - i for i in range(12)], np.int32), np.zeros(12), (1, 4, 7))
    nl.encoding, nl.input_shape = enc, None
    assert input_places(nl)[0].tolist() == [3.0, 6.0] and input_places(nl)[11].tolist() == [2.0, 2.0]
    # no image: no places
    nl.encoding = None
    assert input_places(nl) is None and net_places(nl) is None
    nl.input_shape = (12,)
    assert net_places(nl) is None


def test_large_ir_memory():
    # 1.28M gates (256,000 x 5) in flat arrays: well under 1 GB.
    rng = np.random.default_rng(0)
    w = 256_000
    layers = [(gates.tables_from_gate_ids(rng.integers(0, 16, w)), rng.integers(0, 784 if i == 0 else w, (w, 2)))
              for i in range(5)]
    nl = Netlist.from_layers(784, layers, 10)
    nl.check()
    assert nl.n_nodes == 1_280_000
    assert nl.nbytes() < 100 << 20
