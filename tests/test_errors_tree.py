"""One exception tree, rooted in catalyst.errors: every public error subclasses it; old import paths still work."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import catalyst
import catalyst.errors as errors


def test_moved_errors_are_the_same_classes_at_their_old_paths():
    from catalyst.evaluation.errors import EvaluationError, MissingLabelsError
    from catalyst.proxy._upstream import UpstreamError
    from catalyst.review._text import InvalidTextError, ReviewError
    from catalyst.review.queue import NotHolderError
    from catalyst.wrapping import RegenerateFailed

    assert ReviewError is errors.ReviewError and InvalidTextError is errors.InvalidTextError
    assert EvaluationError is errors.EvaluationError and issubclass(MissingLabelsError, errors.UserError)
    assert RegenerateFailed is errors.RegenerateFailed and issubclass(RegenerateFailed, errors.RuntimeFailure)
    assert UpstreamError is errors.UpstreamError and issubclass(UpstreamError, errors.ModelCallError)
    assert issubclass(NotHolderError, errors.ReviewError)


def test_every_public_exception_in_the_package_is_in_the_tree():
    """Walk catalyst's modules: an exception class that is not private must subclass CatalystError."""
    outside = []
    for mod in pkgutil.walk_packages(catalyst.__path__, "catalyst."):
        if mod.name.endswith("__main__") or any(p.startswith("_") for p in mod.name.split(".")[1:]):
            continue
        try:
            module = importlib.import_module(mod.name)
        except ImportError:  # an optional extra is not installed
            continue
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__
                    and not name.startswith("_") and not issubclass(obj, errors.CatalystError)):
                outside.append(f"{module.__name__}.{name}")
    # private modules (``_retry``...) keep internal control-flow signals; HttpError never leaves the web app
    assert set(outside) <= {"catalyst.review.web.app.HttpError"}, outside


def test_exit_codes_follow_the_tree():
    assert errors.UserError.exit_code == 2 and errors.PolicyError.exit_code == 2
    assert errors.RuntimeFailure.exit_code == 1 and errors.StoreError.exit_code == 1
    assert errors.StoreLockedError.exit_code == 2


def test_the_docstring_names_every_class_of_the_module():
    doc = errors.__doc__ or ""
    classes = [n for n, o in vars(errors).items() if inspect.isclass(o) and issubclass(o, BaseException)
               and o.__module__ == errors.__name__]
    assert [n for n in classes if n not in doc] == []
