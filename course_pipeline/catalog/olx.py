def read_olx_tables(source):
    raise NotImplementedError
