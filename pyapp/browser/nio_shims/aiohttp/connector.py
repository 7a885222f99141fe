from . import _Absent


class Connection(_Absent):
    pass
