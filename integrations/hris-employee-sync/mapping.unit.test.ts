import { describe, expect, it } from 'vitest';
import { mapEmployee } from './mapping.js';
import { generateEmployees } from '../../fixtures/employees.js';

describe('employee mapping', () => {
  const [first] = generateEmployees(1, 7);

  it('maps a source record to the canonical shape, nested fields included', () => {
    expect(mapEmployee(first)).toEqual({
      externalId: first!.employee_id,
      givenName: first!.first_name,
      familyName: first!.last_name,
      email: first!.work_email,
      birthDate: first!.birth_date,
      hireDate: first!.hire_date,
      department: first!.department,
      jobTitle: first!.job_title,
      salaryAmount: first!.compensation.amount,
      salaryCurrency: 'USD',
      nationalId: first!.national_id,
      employmentStatus: first!.status,
      terminationDate: null,
    });
  });

  it('skips a record that does not fit: no email, a bad date, or not an object', () => {
    expect(mapEmployee({ ...first, work_email: null })).toBeNull();
    expect(mapEmployee({ ...first, birth_date: '31/12/1990' })).toBeNull();
    expect(mapEmployee('E000001')).toBeNull();
    expect(mapEmployee(null)).toBeNull();
  });

  it('generates the same employees for the same seed, with one in fifty lacking an email', () => {
    const a = generateEmployees(200, 3);
    expect(generateEmployees(200, 3)).toEqual(a);
    expect(generateEmployees(200, 4)).not.toEqual(a);
    expect(a.filter((e) => e.work_email === null)).toHaveLength(4);
    expect(new Set(a.map((e) => e.national_id)).size).toBe(200);
  });
});
