package cloudapi

// JSON methods that keep in Extra the unknown members and the known ones
// read in a form their field would not write back, and read leniently (see
// extra.go for both). Each defines a method-less "plain" copy of its type
// so that encoding/json does not call the method again.

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (c Cluster) MarshalJSON() ([]byte, error) {
	type plain Cluster
	return encodeObject(plain(c), c.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (c *Cluster) UnmarshalJSON(data []byte) (err error) {
	type plain Cluster
	c.Extra, err = decodeObject(data, (*plain)(c))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (o ObjectMeta) MarshalJSON() ([]byte, error) {
	type plain ObjectMeta
	return encodeObject(plain(o), o.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (o *ObjectMeta) UnmarshalJSON(data []byte) (err error) {
	type plain ObjectMeta
	o.Extra, err = decodeObject(data, (*plain)(o))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (c ClusterSpec) MarshalJSON() ([]byte, error) {
	type plain ClusterSpec
	return encodeObject(plain(c), c.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (c *ClusterSpec) UnmarshalJSON(data []byte) (err error) {
	type plain ClusterSpec
	c.Extra, err = decodeObject(data, (*plain)(c))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (m MasterConfig) MarshalJSON() ([]byte, error) {
	type plain MasterConfig
	return encodeObject(plain(m), m.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (m *MasterConfig) UnmarshalJSON(data []byte) (err error) {
	type plain MasterConfig
	m.Extra, err = decodeObject(data, (*plain)(m))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (q QueryConfig) MarshalJSON() ([]byte, error) {
	type plain QueryConfig
	return encodeObject(plain(q), q.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (q *QueryConfig) UnmarshalJSON(data []byte) (err error) {
	type plain QueryConfig
	q.Extra, err = decodeObject(data, (*plain)(q))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (d DataConfig) MarshalJSON() ([]byte, error) {
	type plain DataConfig
	return encodeObject(plain(d), d.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (d *DataConfig) UnmarshalJSON(data []byte) (err error) {
	type plain DataConfig
	d.Extra, err = decodeObject(data, (*plain)(d))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (d DataTier) MarshalJSON() ([]byte, error) {
	type plain DataTier
	return encodeObject(plain(d), d.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (d *DataTier) UnmarshalJSON(data []byte) (err error) {
	type plain DataTier
	d.Extra, err = decodeObject(data, (*plain)(d))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (m MetadataStore) MarshalJSON() ([]byte, error) {
	type plain MetadataStore
	return encodeObject(plain(m), m.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (m *MetadataStore) UnmarshalJSON(data []byte) (err error) {
	type plain MetadataStore
	m.Extra, err = decodeObject(data, (*plain)(m))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (p PivotAccess) MarshalJSON() ([]byte, error) {
	type plain PivotAccess
	return encodeObject(plain(p), p.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (p *PivotAccess) UnmarshalJSON(data []byte) (err error) {
	type plain PivotAccess
	p.Extra, err = decodeObject(data, (*plain)(p))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (d DeepStorage) MarshalJSON() ([]byte, error) {
	type plain DeepStorage
	return encodeObject(plain(d), d.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (d *DeepStorage) UnmarshalJSON(data []byte) (err error) {
	type plain DeepStorage
	d.Extra, err = decodeObject(data, (*plain)(d))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (c CustomDruidExtension) MarshalJSON() ([]byte, error) {
	type plain CustomDruidExtension
	return encodeObject(plain(c), c.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (c *CustomDruidExtension) UnmarshalJSON(data []byte) (err error) {
	type plain CustomDruidExtension
	c.Extra, err = decodeObject(data, (*plain)(c))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (c CustomFile) MarshalJSON() ([]byte, error) {
	type plain CustomFile
	return encodeObject(plain(c), c.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (c *CustomFile) UnmarshalJSON(data []byte) (err error) {
	type plain CustomFile
	c.Extra, err = decodeObject(data, (*plain)(c))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (n NameValue) MarshalJSON() ([]byte, error) {
	type plain NameValue
	return encodeObject(plain(n), n.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (n *NameValue) UnmarshalJSON(data []byte) (err error) {
	type plain NameValue
	n.Extra, err = decodeObject(data, (*plain)(n))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (c ClusterStatus) MarshalJSON() ([]byte, error) {
	type plain ClusterStatus
	return encodeObject(plain(c), c.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (c *ClusterStatus) UnmarshalJSON(data []byte) (err error) {
	type plain ClusterStatus
	c.Extra, err = decodeObject(data, (*plain)(c))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (l LoadBalancers) MarshalJSON() ([]byte, error) {
	type plain LoadBalancers
	return encodeObject(plain(l), l.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (l *LoadBalancers) UnmarshalJSON(data []byte) (err error) {
	type plain LoadBalancers
	l.Extra, err = decodeObject(data, (*plain)(l))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (s Server) MarshalJSON() ([]byte, error) {
	type plain Server
	return encodeObject(plain(s), s.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (s *Server) UnmarshalJSON(data []byte) (err error) {
	type plain Server
	s.Extra, err = decodeObject(data, (*plain)(s))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (u UpdateState) MarshalJSON() ([]byte, error) {
	type plain UpdateState
	return encodeObject(plain(u), u.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (u *UpdateState) UnmarshalJSON(data []byte) (err error) {
	type plain UpdateState
	u.Extra, err = decodeObject(data, (*plain)(u))
	return err
}

// MarshalJSON writes the known fields, as read while unchanged, followed
// by the unknown members.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return encodeObject(plain(e), e.Extra)
}

// UnmarshalJSON reads the known fields leniently and keeps in Extra what
// they would not write back. Errors name the member path.
func (e *Event) UnmarshalJSON(data []byte) (err error) {
	type plain Event
	e.Extra, err = decodeObject(data, (*plain)(e))
	return err
}
